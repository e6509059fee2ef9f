"""Guangying (光影): AI-perception virtual production.

Data flows one way through the stage packages:

``media`` (footage in) → ``keyer`` / ``matting`` / ``distance`` (perception) → ``focus`` + ``lens``
(focus control, lens maths) → ``composite`` (linear-light compositing) → ``media`` (footage out).
``pipeline`` strings the stages together for batch and live jobs; ``cli`` is the command line;
``models`` fetches and converts the neural-network weights; ``evaluation`` holds the quality metrics.
"""

__version__ = "0.1.0"
