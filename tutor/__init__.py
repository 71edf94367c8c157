"""stack-tutor: an offline tutor for the 14 layers of the AI technology stack."""

from tutor._offline import configure_offline_environment

configure_offline_environment()

__version__ = "0.1.0"
