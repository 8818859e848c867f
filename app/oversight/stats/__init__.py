"""The bureau's figures per town and month (辖区概况): standardization against the 70 % target, check completion, hazards, trends; their rollup tables and the dashboard."""
