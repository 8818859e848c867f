"""The bureau's oversight of its district: figures per town and district (stats), one file
per enterprise (dossier), bulletins (通报). Reads the hazard-reporting features; nothing
below it reads it."""
