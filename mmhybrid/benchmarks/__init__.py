"""The evidence: does hybrid pre-training beat its parts and no pre-training?"""
