"""The feedback service: satisfaction surveys with analysis; complaints handled within the legal deadlines."""
