"""transcripts_schema"""
