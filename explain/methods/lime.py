"""placeholder: lime methods are added in their own module."""
