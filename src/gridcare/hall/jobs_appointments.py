"""Mount point (issue 16): job kinds; filled by its owner."""
