"""Collection reports: collection rate, arrears ageing, channel mix (pages, API, Excel, command)."""
