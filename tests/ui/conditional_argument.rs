use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "/a")]
    async fn call(&self, #[cfg(test)] #[query] page: u32) -> Result<(), Error>;
}

fn main() {}
