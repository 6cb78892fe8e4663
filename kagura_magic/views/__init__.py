"""Views of a streamed answer: the notebook's widgets, update_display_data frames, the terminal."""
