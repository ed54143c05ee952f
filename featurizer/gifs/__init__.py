"""GIFs made from videos: choosing a seamless loop inside a segment, and writing it."""
