"""moto, the AWS stand-in, and the patches that restore what AWS does where moto 5.2.5 does not."""
