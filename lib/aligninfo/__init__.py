"""aligninfo: does aligning two modalities destroy the information only one of them carries?

Closed forms for a linear-Gaussian multimodal model, alignment objectives, encoders, one
training loop, probes and Earth-observation data loaders, behind an executable Jupyter Book.
"""

__version__ = "0.1.0"
