"""Numbered plain-SQL migrations, applied in order by ``hiload-api migrate``."""
