"""placeholder: attention methods are added in their own module."""
