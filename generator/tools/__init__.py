"""Tools on top of builds: contact sheets (`preview`) and the realism measurements."""
