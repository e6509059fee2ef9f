"""Compositing in linear light: transfer functions, premultiplied over, light wrap, defocus."""
