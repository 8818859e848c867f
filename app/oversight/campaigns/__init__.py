"""Special campaigns (专项整治): the bureau's topic campaigns and the enterprises' self-checks."""
