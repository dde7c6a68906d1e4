"""Run records, aggregation into tables, plots."""
