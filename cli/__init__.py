"""`batchscore …`, the command line: a front end beside the HTTP API, over the same application
layer (service/). Each command parses its arguments, makes one call and prints the outcome."""
