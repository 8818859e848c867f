"""一企一档: one page per enterprise for the bureau in scope and the enterprise's principal, safety officer and admin."""
