"""The materials store (材料库): uploaded and generated files, stored once by content, versioned by slot."""
