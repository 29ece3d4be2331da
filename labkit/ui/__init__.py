"""The Gradio app: `build_app()` in app.py, one module per tab in tabs/. Importing this package imports gradio."""
