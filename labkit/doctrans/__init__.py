"""Document image translation: OCR, layout, translate, render, evaluate."""
