"""ela: emotion-aware skeleton motion analysis and adversarial robustness."""

__version__ = "0.1.0"
