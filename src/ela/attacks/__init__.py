"""Adversarial attacks on skeleton action recognizers and imperceptibility metrics.

``ELA(model, layout, emotion_model=...)(x, labels)`` returns an `AttackResult`; `summarize`
turns it into an `AttackSummary` (success over the correctly classified samples, the
metrics). Baselines: `CW` (C&W-L2), `SMART`, `PGD` (I-FGSM/PGD), `MIFGSM` (momentum; the
transfer baseline), `APGD` (adaptive step size; the budget curves of a defence).
"""

from ela.attacks.apgd import APGD
from ela.attacks.base import Attack, AttackError, AttackResult, LogitsOnly
from ela.attacks.cw import CW
from ela.attacks.distances import DynamicDistance, EmotionDistance, SmartPerceptualLoss
from ela.attacks.ela import ELA
from ela.attacks.metrics import imperceptibility
from ela.attacks.mifgsm import MIFGSM
from ela.attacks.objectives import is_adversarial, margin
from ela.attacks.pgd import PGD
from ela.attacks.smart import SMART
from ela.attacks.summary import AttackSummary, summarize

ATTACKS = {"ela": ELA, "cw": CW, "smart": SMART, "pgd": PGD, "mifgsm": MIFGSM,
           "apgd": APGD}

__all__ = [
    "APGD", "ATTACKS", "CW", "ELA", "MIFGSM", "PGD", "SMART", "Attack", "AttackError",
    "AttackResult", "AttackSummary", "LogitsOnly",
    "DynamicDistance", "EmotionDistance", "SmartPerceptualLoss", "imperceptibility",
    "is_adversarial", "margin", "summarize",
]
