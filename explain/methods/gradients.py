"""placeholder: gradients methods are added in their own module."""
