"""Imports every built-in model module so that their `@register_model` decorators run."""

from ela.models import (
    agcn,
    cnn,
    hcn,
    highpass,
    multimodal,
    proxemo,
    recurrent,
    sgn,
    smacn,
    squeeze,
    sstgcn,
    stgcn,
)

MODULES = (agcn, cnn, hcn, highpass, multimodal, proxemo, recurrent, sgn, smacn, squeeze, sstgcn,
           stgcn)
