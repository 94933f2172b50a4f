"""review-explainer: why did this review get 2 stars? Explanations for BERT-style review classifiers."""

from explain.classifier import Classifier, Encoding, Inference, Trace, TruncationWarning
from explain.errors import UserError
from explain.explanation import Explanation
from explain.methods import Method, explain, get_method, methods
from explain.metrics.consensus import Consensus, consensus
from explain.models import load_classifier
from explain.notebook import register_display as _register_display
from explain.target import Target

__all__ = [
    "Classifier",
    "Consensus",
    "Encoding",
    "Explanation",
    "Inference",
    "Method",
    "Target",
    "Trace",
    "TruncationWarning",
    "UserError",
    "consensus",
    "explain",
    "get_method",
    "load_classifier",
    "methods",
]
__version__ = "0.1.0"  # the one version source (pyproject.toml reads it)

_register_display()  # inside IPython (Jupyter, VS Code, Colab) results display as HTML; elsewhere nothing
