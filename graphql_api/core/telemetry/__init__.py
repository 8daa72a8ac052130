"""Observability helpers below the face (issue 13, R18): traces, masking, bounded labels."""
