"""placeholder: shap methods are added in their own module."""
