"""Chroma keyer: screen estimate, colour-difference matte, despill, foreground un-mixing."""
