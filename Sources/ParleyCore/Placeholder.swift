enum _PlaceholderParleyCore {}
