"""Census (普查): the bureau's enterprise sheet, exported and imported as Excel."""
