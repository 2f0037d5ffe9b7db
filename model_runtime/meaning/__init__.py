"""Reading text by meaning with numpy alone: the MiniLM sentence encoder and the situation reader."""
