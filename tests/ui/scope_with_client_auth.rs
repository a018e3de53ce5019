use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(post = "/a", auth = client, scope = "PIS")]
    async fn call(&self) -> Result<(), Error>;
}

fn main() {}
