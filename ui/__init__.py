"""The browser UI (`tutor ui`): a Gradio app over the tutor's public API."""
