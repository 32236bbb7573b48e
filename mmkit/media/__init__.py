"""Raw media in, validated and encoded media out: no messages, no HTTP APIs."""
