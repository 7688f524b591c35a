# Installed as the package ``bcdesktop._bundled`` (see pyproject.toml) so that a
# non-editable install carries the data set and the default model too.
