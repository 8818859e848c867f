"""The risk register (风险分级管控): risk points, hazard sources, controls."""
