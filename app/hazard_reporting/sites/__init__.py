"""The sites page (排查点位): an enterprise's QR points with their four-colour risk level,
and what a site's change means for its risk-point rounds.

It sits in the features layer, not beside the site records in `enterprises.sites`
(identity), because a site's risk level (`SiteRiskProfile`) and its rounds belong to
`schedules`: identity may not import features, so the page that shows and edits both lives
here and calls down into each."""
