"""Test helpers for gcpause.aws_lambda: a fake Lambda Runtime/Extensions API server
(``server``), an EMF checker (``emf``) and the handler module run by awslambdaric
(``app``, imported only in the client subprocess)."""
