"""GovHub's built-in scheduled jobs, one module each (entry points of ``govhub.jobs``)."""
