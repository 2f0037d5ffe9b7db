"""Audio: reading recordings, measuring them, aligning a script to them, and a scratch voice."""
