"""local/ecr"""
