use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(post = "/x", frm, timout = "1s")]
    async fn call(&self, #[body] body: &str) -> Result<(), Error>;
}

fn main() {}
