"""Turn analysis results into text, JSON and graph files. No analysis happens here."""
