"""待交接事项: what a member who left still holds (open check tasks, open hazards) and the
reassignment of those hazards. Lives with the features because accounts may not see them."""
