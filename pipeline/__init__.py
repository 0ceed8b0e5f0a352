"""newsbeam's Beam wiring: options, sources, sinks, the pipeline graph and the command line."""

import logging


def _drop_beam_import_noise(record: logging.LogRecord) -> bool:
    # apache_beam logs this through the root logger on import when the GCP extra is absent;
    # it is not about newsbeam and would be the first thing every user sees.
    return "apitools not found" not in record.getMessage()


logging.getLogger().addFilter(_drop_beam_import_noise)
