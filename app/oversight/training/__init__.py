"""Safety training (安全培训): sessions an enterprise holds and the bureau's coverage of principals and safety officers."""
