/* ela report: 3D skeleton viewer (orthographic, rotatable), frame slider, play/pause and
 * per-joint perturbation heat map. Plain JS + SVG, no network. The camera formulas are those
 * of ela/viz/projection.py: points arrive in a y-up frame; azimuth turns about y (0 = camera
 * on +z), elevation tilts the camera down; screen right x up = towards the camera (no mirror).
 */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var GREEN = "#1a9641", RED = "#d7191c";
  var VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

  function node(tag, attrs, parent) {
    var e = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (parent) { parent.appendChild(e); }
    return e;
  }

  function camera(az, el) {
    var sa = Math.sin(az), ca = Math.cos(az), se = Math.sin(el), ce = Math.cos(el);
    return { r: [ca, 0, -sa], u: [-sa * se, ce, -ca * se] };
  }

  function colour(x) {
    var f = Math.max(0, Math.min(1, x)) * (VIRIDIS.length - 1);
    var i = Math.min(Math.floor(f), VIRIDIS.length - 2), w = f - i;
    var c = VIRIDIS[i].map(function (a, k) { return Math.round(a + (VIRIDIS[i + 1][k] - a) * w); });
    return "rgb(" + c.join(",") + ")";
  }

  function decode(s) {
    // clean and adversarial as Float64Array (T*M*V*3), metres.
    var n = s.clean.length, clean = new Float64Array(n), adv = new Float64Array(n);
    for (var i = 0; i < n; i++) {
      clean[i] = s.clean[i] * s.scale;
      adv[i] = (s.clean[i] + s.delta[i]) * s.scale;
    }
    return { clean: clean, adv: adv };
  }

  function Skeleton(parent, run, persons, paint, width) {
    this.lines = [];
    this.joints = [];
    for (var m = 0; m < persons; m++) {
      var g = node("g", { "class": "person", "data-person": m }, parent);
      var lines = run.edges.map(function (e) {
        return node("line", { stroke: paint, "stroke-width": width, "stroke-linecap": "round",
                              "data-bone": e[0] + "-" + e[1] }, g);
      });
      var joints = run.joints.map(function (name, v) {
        var c = node("circle", { r: width * 1.1, fill: paint, "data-joint": v, "class": "joint" }, g);
        node("title", {}, c).textContent = name;
        return c;
      });
      this.lines.push(lines);
      this.joints.push(joints);
    }
  }

  Skeleton.prototype.draw = function (pts, t, view, run, V, M) {
    for (var m = 0; m < M; m++) {
      var uv = [];
      for (var v = 0; v < V; v++) {
        var o = ((t * M + m) * V + v) * 3;
        var p = [pts[o] - view.c[0], pts[o + 1] - view.c[1], pts[o + 2] - view.c[2]];
        var x = view.cx + view.s * (p[0] * view.cam.r[0] + p[1] * view.cam.r[1] + p[2] * view.cam.r[2]);
        var y = view.cy - view.s * (p[0] * view.cam.u[0] + p[1] * view.cam.u[1] + p[2] * view.cam.u[2]);
        uv.push([x.toFixed(1), y.toFixed(1)]);
        this.joints[m][v].setAttribute("cx", uv[v][0]);
        this.joints[m][v].setAttribute("cy", uv[v][1]);
      }
      var lines = this.lines[m];
      run.edges.forEach(function (e, k) {
        lines[k].setAttribute("x1", uv[e[0]][0]);
        lines[k].setAttribute("y1", uv[e[0]][1]);
        lines[k].setAttribute("x2", uv[e[1]][0]);
        lines[k].setAttribute("y2", uv[e[1]][1]);
      });
    }
  };

  function Viewer(root, run) {
    this.root = root;
    this.run = run;
    this.q = function (sel) { return root.querySelector(sel); };
    this.select = this.q("select.sample");
    this.slider = this.q("input.frame");
    this.playButton = this.q("button.play");
    this.timer = null;
    var self = this;
    run.samples.forEach(function (s, i) {
      var opt = document.createElement("option");
      opt.value = i;
      opt.textContent = "#" + s.index + " " + s.name + ": " + s.label + " \u2192 " + s.adv +
        (s.success ? "" : " (attack failed)");
      self.select.appendChild(opt);
    });
    this.select.addEventListener("change", function () { self.load(+self.select.value); });
    this.slider.addEventListener("input", function () { self.draw(); });
    this.playButton.addEventListener("click", function () { self.toggle(); });
    this.q("button.reset").addEventListener("click", function () {
      self.az = self.sample.view[0];
      self.el = self.sample.view[1];
      self.draw();
    });
    root.querySelectorAll("svg.stage").forEach(function (svg) { self.drag(svg); });
    this.load(0);
  }

  Viewer.prototype.drag = function (svg) {
    var self = this, last = null;
    svg.addEventListener("pointerdown", function (ev) {
      last = [ev.clientX, ev.clientY];
      svg.setPointerCapture(ev.pointerId);
    });
    svg.addEventListener("pointermove", function (ev) {
      if (!last) { return; }
      self.az -= (ev.clientX - last[0]) * 0.01;
      self.el = Math.max(-1.55, Math.min(1.55, self.el + (ev.clientY - last[1]) * 0.01));
      last = [ev.clientX, ev.clientY];
      self.draw();
    });
    ["pointerup", "pointercancel"].forEach(function (name) {
      svg.addEventListener(name, function () { last = null; });
    });
  };

  Viewer.prototype.load = function (i) {
    var s = this.run.samples[i], run = this.run;
    this.sample = s;
    this.pts = decode(s);
    this.az = s.view[0];
    this.el = s.view[1];
    var n = s.clean.length / 3, c = [0, 0, 0], r = 1e-6, k, a;
    for (k = 0; k < n; k++) { for (a = 0; a < 3; a++) { c[a] += this.pts.clean[3 * k + a] / n; } }
    [this.pts.clean, this.pts.adv].forEach(function (p) {
      for (k = 0; k < n; k++) {
        r = Math.max(r, Math.hypot(p[3 * k] - c[0], p[3 * k + 1] - c[1], p[3 * k + 2] - c[2]));
      }
    });
    this.centre = c;
    this.radius = r;
    var overlay = this.q("svg.overlay"), side = this.q("svg.side");
    [overlay, side].forEach(function (svg) { while (svg.lastChild) { svg.removeChild(svg.lastChild); } });
    var M = s.persons;
    this.drawings = [
      [new Skeleton(node("g", { "class": "clean" }, overlay), run, M, GREEN, 3), "clean", 0],
      [new Skeleton(node("g", { "class": "adv" }, overlay), run, M, RED, 2), "adv", 0],
      [new Skeleton(node("g", { "class": "clean" }, side), run, M, GREEN, 3), "clean", 1],
      [new Skeleton(node("g", { "class": "adv" }, side), run, M, RED, 3), "adv", 2]
    ];
    node("text", { x: 10, y: 20, "class": "caption" }, side).textContent = "original";
    node("text", { x: 370, y: 20, "class": "caption" }, side).textContent = "adversarial";
    this.slider.max = s.frames - 1;
    this.slider.value = 0;
    this.select.value = i;
    var lab = this.q(".labels");
    lab.innerHTML = "";
    var rows = [["true", s.label], ["predicted", s.pred], ["adversarial", s.adv],
                ["attack", s.success ? "succeeded" : "failed"]];
    if (s.emotion_before !== null) {
      rows.push(["emotion before", s.emotion_before], ["emotion after", s.emotion_after]);
    }
    rows.forEach(function (row) {
      var d = document.createElement("span");
      d.className = "tag " + row[0].replace(/ /g, "-");
      d.textContent = row[0] + ": " + row[1];
      lab.appendChild(d);
    });
    this.heat();
    this.draw();
  };

  Viewer.prototype.heat = function () {
    var s = this.sample, run = this.run, svg = this.q("svg.heat");
    while (svg.lastChild) { svg.removeChild(svg.lastChild); }
    var V = run.joints.length, T = s.frames, left = 120, top = 8;
    var cw = Math.max(3, Math.min(16, 560 / T)), ch = 11;
    var width = left + cw * T + 70, height = top + ch * V + 30;
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    var max = Math.max.apply(null, s.heat.concat([1e-9]));
    for (var v = 0; v < V; v++) {
      node("text", { x: left - 4, y: top + ch * v + ch - 2, "class": "axis", "text-anchor": "end" },
           svg).textContent = run.joints[v];
      for (var t = 0; t < T; t++) {
        var val = s.heat[v * T + t];
        var rect = node("rect", { x: left + cw * t, y: top + ch * v, width: cw, height: ch,
                                  fill: colour(val / max) }, svg);
        node("title", {}, rect).textContent =
          run.joints[v] + ", frame " + (t + 1) + ": " + val.toFixed(2) + " mm";
      }
    }
    var foot = node("text", { x: left, y: top + ch * V + 16, "class": "axis" }, svg);
    foot.textContent = "frame \u2192   colour: \u2016x\u2032 \u2212 x\u2016 per joint, 0 to " +
      max.toFixed(2) + " mm";
    for (var i = 0; i <= 4; i++) {
      node("rect", { x: left + cw * T + 12, y: top + (4 - i) * ch * V / 5, width: 12,
                     height: ch * V / 5, fill: colour(i / 4) }, svg);
    }
    this.marker = node("rect", { x: left, y: top - 2, width: cw, height: ch * V + 4,
                                 fill: "none", stroke: "#e0115f", "stroke-width": 1.5,
                                 "class": "marker" }, svg);
    this.cell = [left, cw];
  };

  Viewer.prototype.draw = function () {
    var t = +this.slider.value, s = this.sample, self = this;
    var cam = camera(this.az, this.el), V = this.run.joints.length;
    var boxes = [[180, 200], [180, 200], [540, 200]];
    var scale = 170 / this.radius;
    this.drawings.forEach(function (d) {
      var view = { c: self.centre, cx: boxes[d[2]][0], cy: boxes[d[2]][1], s: scale, cam: cam };
      d[0].draw(self.pts[d[1]], t, view, self.run, V, s.persons);
    });
    this.q(".frame-label").textContent = "frame " + (t + 1) + " / " + s.frames;
    this.marker.setAttribute("x", this.cell[0] + this.cell[1] * t);
    this.root.setAttribute("data-frame", t);
  };

  Viewer.prototype.toggle = function () {
    var self = this;
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = null;
      this.playButton.textContent = "\u25B6 play";
      return;
    }
    this.playButton.textContent = "\u275A\u275A pause";
    this.timer = setInterval(function () {
      self.slider.value = (+self.slider.value + 1) % self.sample.frames;
      self.draw();
    }, 1000 / (self.run.fps || 15));
  };

  var data = JSON.parse(document.getElementById("ela-data").textContent);
  document.querySelectorAll(".ela-viewer").forEach(function (root) {
    root.viewer = new Viewer(root, data.runs[+root.getAttribute("data-run")]);
  });
})();
