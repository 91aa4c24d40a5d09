#!/bin/sh
# GIT_ASKPASS for the gitops_repository role: answers git's prompts from two files of a private
# directory, so that the credentials never reach a command line, the environment or a log.
case "$1" in
  Username*) cat "$KEIKO_GIT_CREDENTIALS_DIR/username" ;;
  *) cat "$KEIKO_GIT_CREDENTIALS_DIR/password" ;;
esac
