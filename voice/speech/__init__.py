"""What a callee hears: the language and voice of a call, the phrase catalogue (phrases.toml), and
text made fit to be said.

Uses: nothing of ours.
"""
